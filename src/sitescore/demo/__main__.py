"""`python -m sitescore.demo OUT_DIR [SEED]`."""

from . import main

raise SystemExit(main())
