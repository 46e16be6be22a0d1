"""``python -m agentdock`` is the ``agentdock`` command."""

import sys

from agentdock.cli import main

sys.exit(main())
