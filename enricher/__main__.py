"""``python -m enricher`` runs the same CLI as the ``aadsts-enricher`` script."""

import sys

from enricher.cli import main

sys.exit(main())
