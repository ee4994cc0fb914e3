"""Chain access for the services: EigenLayer ABI fragments, event decoding, contract reads."""
