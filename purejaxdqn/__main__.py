import sys

from purejaxdqn.cli import main

sys.exit(main())
