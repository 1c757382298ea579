"""Import tracklog for the stand-in, from the home ``tracklog run`` named when need be."""

import os
import sys


def load():
    """The tracklog package."""
    try:
        import tracklog
    except ImportError:
        home = os.environ.get("TRACKLOG_BOOTSTRAP_HOME")
        if not home:
            raise
        sys.path.append(home)
        import tracklog
    return tracklog
