import sys

from arenakit.bench.cli import main

sys.exit(main())
