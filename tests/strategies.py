"""The suite's hypothesis profiles, and the strategies of :mod:`labelavg.testing`.

The strategies live in the package (``from labelavg.testing import psd_grams``);
they are re-exported here so the tests can keep ``from strategies import ...``.
"""

from __future__ import annotations

import os

from hypothesis import Phase, settings

from labelavg.testing import *  # noqa: F401,F403  (the shipped strategies)
from labelavg.testing import __all__  # noqa: F401

settings.register_profile("default", max_examples=25, deadline=None, derandomize=True)
settings.register_profile("ci", max_examples=100, deadline=None)
#: bench/mutation.py (mutmut): the default examples, but a failure ends the test at once (no shrinking).
settings.register_profile("mutation", parent=settings.get_profile("default"),
                          phases=[Phase.explicit, Phase.generate])
#: The ``ci`` profile when the CI environment variable is set (as CI services and
#: ``.ci/run`` do); ``--hypothesis-profile=NAME`` on the command line overrides it.
settings.load_profile("ci" if os.environ.get("CI", "").lower() not in ("", "0", "false")
                      else "default")
