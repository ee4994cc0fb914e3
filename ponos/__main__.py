import sys

from ponos.cli import main

sys.exit(main())
