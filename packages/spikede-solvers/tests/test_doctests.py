"""Every docstring example of the package is a passing doctest."""

import doctest
import importlib
import pkgutil

import pytest

import spikede_solvers

MODULES = sorted(
    name for _, name, _ in pkgutil.iter_modules(spikede_solvers.__path__, prefix="spikede_solvers.")
)
#: Modules of public functions, whose docstrings must hold an example.
WITH_EXAMPLES = {
    "spikede_solvers._fdeint",
    "spikede_solvers._graded_grid",
    "spikede_solvers._mittag_leffler",
    "spikede_solvers._odeint",
    "spikede_solvers._registry",
    "spikede_solvers._snn",
}


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if module_name in WITH_EXAMPLES:
        assert result.attempted > 0
