import sys

from cotoami_stack.commands import main

sys.exit(main())
