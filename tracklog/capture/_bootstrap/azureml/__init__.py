"""tracklog's stand-in for the ``azureml`` namespace, on ``tracklog run``'s child path only.

An installed azureml-core wins: the other ``azureml`` folders on sys.path come first
in ``__path__``, so ``azureml.core`` is the real one when it is installed.
"""

import os as _os
import pkgutil as _pkgutil

_HERE = _os.path.dirname(_os.path.abspath(__file__))
__path__ = _pkgutil.extend_path(__path__, __name__)  # noqa: F821 (set by the import system)
__path__ = [p for p in __path__ if _os.path.abspath(p) != _HERE] + [_HERE]
