"""``python -m tradegw``: the same as the ``tradegw`` console script."""

import sys

from tradegw.cli import main

sys.exit(main())
