import sys

from immersion.cli import main

sys.exit(main())
