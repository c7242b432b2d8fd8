"""`python -m vasa_bridge.cli` is `vasa-bridge`."""

import sys

from . import main

sys.exit(main())
