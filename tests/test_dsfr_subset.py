"""booking/static/booking/dsfr-subset.css is the DSFR our pages load: it must be the one
scripts/build_dsfr_css.py makes from today's templates and the installed django-dsfr. A class
added to a template without running the script again would have no style at all."""

import importlib.util
from pathlib import Path

from django.conf import settings

SCRIPT = Path(settings.BASE_DIR) / "scripts" / "build_dsfr_css.py"


def _builder():
    spec = importlib.util.spec_from_file_location("build_dsfr_css", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dsfr_subset_is_up_to_date():
    builder = _builder()

    committed = builder.OUTPUT.read_text()

    assert committed == builder.build(), "run: .venv/bin/python scripts/build_dsfr_css.py"


def test_dsfr_subset_keeps_only_the_classes_used():
    css = _builder().OUTPUT.read_text()

    assert (".fr-alert--error" in css, ".fr-accordion" in css, "data-fr-js" in css) == (
        True,
        False,
        False,
    )
