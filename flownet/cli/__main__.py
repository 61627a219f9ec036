"""``python -m flownet.cli``: the same as the ``flownet`` command."""

import sys

from . import main

sys.exit(main())
