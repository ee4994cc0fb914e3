"""Build hook: generate the gRPC modules (tools/gen_protos.py) before packaging."""

import importlib.util
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py


class BuildWithProtos(build_py):
    def run(self) -> None:
        spec = importlib.util.spec_from_file_location(
            "gen_protos", Path(__file__).parent / "tools" / "gen_protos.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.generate()
        # setup() listed the packages before they were generated: add the generated ones.
        for package in find_packages(include=["ponos.proto", "ponos.proto.*"]):
            if package not in self.packages:
                self.packages.append(package)
        super().run()


setup(cmdclass={"build_py": BuildWithProtos})
