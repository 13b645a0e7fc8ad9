import sys

from local_infra.cli import main

sys.exit(main())
