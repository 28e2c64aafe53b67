"""Build booking/static/booking/dsfr-subset.css: the DSFR rules our pages use, and nothing else.

The full DSFR (dsfr.min.css + utility.min.css, about 1.2 MB, 60 KB compressed) is made for every
component, icon and colour of the system; our pages use a few dozen classes. This script reads
the DSFR shipped with django-dsfr, keeps a rule only when every DSFR class in its selector is used
by our templates or Python code, keeps the Marianne faces we declare below (woff2 only, no
italics), and writes one stylesheet whose url()s point at the DSFR's own fonts and icons (the
manifest storage fingerprints them at collectstatic).

Rules that only apply with the DSFR JavaScript (`[data-fr-js]`, which we never load) or in the
dark theme (which needs that JavaScript to be chosen) are left out.

Run it again after adding a DSFR class to a template, or after upgrading django-dsfr:

    .venv/bin/python scripts/build_dsfr_css.py

and commit the result. tests/test_dsfr_subset.py fails while the committed file is out of date;
tests/browser/test_weight_and_layout.py measures the page weight.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "booking" / "static" / "booking" / "dsfr-subset.css"

# Where the collected DSFR lives, relative to the output (both under STATIC_URL).
DSFR_STATIC = "../dsfr/dist"

# Font faces kept: regular text, labels and buttons (500), headings (700). An italic or a light
# text falls back to these (the browser slants or picks the nearest weight).
FACES = {("normal", "400"), ("normal", "500"), ("normal", "700")}

# Class names built in a template from a variable, so that no grep finds them whole.
DYNAMIC_CLASSES = {
    *(f"fr-alert--{level}" for level in ("error", "warning", "success", "info")),
    *(f"fr-notice--{kind}" for kind in ("info", "warning", "alert")),
    # form_field_snippets/input_snippet.html: "{{ group_class }}--error", group_class from
    # dsfr.utils.dsfr_input_class_attr.
    *(
        f"fr-{group}-group--{state}"
        for group in ("input", "select", "radio")
        for state in ("error", "disabled")
    ),
}

# Where our pages' classes come from: our templates and Python, and the django-dsfr templates
# and helpers that render our forms, skip links and notice.
SCANNED = ["booking", "lottery", "accounts", "templates", "config", "ops"]
DSFR_SCANNED = [
    *(
        f"templates/dsfr/form_field_snippets/{kind}_snippet.html"
        for kind in ("input", "checkbox", "checkboxselectmultiple", "radioselect")
    ),
    "templates/dsfr/notice.html",
    "templates/django/forms",
    "utils.py",
]
SKIPPED_DIRS = {"static", "migrations", "__pycache__"}


def dsfr_package() -> Path:
    import dsfr

    return Path(dsfr.__file__).resolve().parent


def used_classes(dsfr_dir: Path) -> set[str]:
    paths = [ROOT / name for name in SCANNED] + [dsfr_dir / name for name in DSFR_SCANNED]
    classes = set(DYNAMIC_CLASSES)
    for base in paths:
        files = [base] if base.is_file() else base.rglob("*")
        for path in files:
            if path.suffix not in {".html", ".py"} or SKIPPED_DIRS & set(path.parts):
                continue
            classes |= set(re.findall(r"fr-[a-zA-Z0-9_-]*[a-zA-Z0-9]", path.read_text()))
    return classes


def blocks(css: str):
    """Yield (prelude, body) for each top-level statement; body is None for `@x ...;`."""
    i, n = 0, len(css)
    while i < n:
        j, quote = i, None
        while j < n:
            c = css[j]
            if quote:
                j += 2 if c == "\\" else 1
                quote = None if c == quote else quote
                continue
            if c in "\"'":
                quote = c
            elif c == ";":
                yield css[i:j].strip(), None
                break
            elif c == "{":
                end = closing_brace(css, j)
                yield css[i:j].strip(), css[j + 1 : end]
                j = end
                break
            j += 1
        i = j + 1


def closing_brace(css: str, start: int) -> int:
    depth, quote, j = 0, None, start
    while True:
        c = css[j]
        if quote:
            j += 2 if c == "\\" else 1
            quote = None if c == quote else quote
            continue
        if c in "\"'":
            quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return j
        j += 1


def split_selectors(prelude: str) -> list[str]:
    parts, depth, current = [], 0, []
    for c in prelude:
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        if c == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def without_not(selector: str) -> str:
    # A class inside :not() need not be used for the rule to apply.
    out, i = [], 0
    while i < len(selector):
        if selector.startswith(":not(", i):
            depth, i = 1, i + 5
            while depth:
                depth += {"(": 1, ")": -1}.get(selector[i], 0)
                i += 1
        else:
            out.append(selector[i])
            i += 1
    return "".join(out)


def selector_kept(selector: str, used: set[str]) -> bool:
    if "data-fr-js" in selector or "data-fr-theme=dark" in selector:
        return False
    required = without_not(selector)
    # [class^=fr-fi-] and [class*=" fr-fi-"] stand for "some class starting with fr-fi-".
    prefixes = re.findall(r"\[class[*^]=\"? ?([\w-]+)\"?\]", required)
    if any(not any(name.startswith(p) for name in used) for p in prefixes):
        return False
    return set(re.findall(r"\.(-?[_a-zA-Z][\w-]*)", required)) <= used


def font_face(body: str, base: str) -> str | None:
    style = re.search(r"font-style:(\w+)", body).group(1)
    weight = re.search(r"font-weight:(\d+)", body).group(1)
    if "Marianne" not in body or (style, weight) not in FACES:
        return None
    woff2 = re.search(r"url\(([^)]+\.woff2)\)", body).group(1)
    src = f'src:url({relocate(woff2, base)}) format("woff2")'
    return "@font-face{" + re.sub(r"src:[^;}]+", src, body) + "}"


def relocate(url: str, base: str) -> str:
    """A url() of a DSFR file at dist/<base>/, rewritten relative to our output."""
    if url.strip("\"'").startswith(("data:", "#", "/")):
        return url
    url = url.strip("\"'")
    parts = [p for p in base.split("/") if p]
    for piece in url.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return f"{DSFR_STATIC}/{'/'.join(parts)}"


def prune(css: str, used: set[str], base: str) -> str:
    out = []
    for prelude, body in blocks(css):
        if body is None or prelude.startswith(("@charset", "@-moz-document")):
            continue
        if prelude.startswith("@font-face"):
            out.append(font_face(body, base) or "")
        elif prelude.startswith(("@media", "@supports")):
            inner = prune(body, used, base)
            if inner:
                out.append(f"{prelude}{{{inner}}}")
        elif prelude.startswith("@"):  # @keyframes and the like: kept whole
            out.append(f"{prelude}{{{body}}}")
        else:
            kept = [s for s in split_selectors(prelude) if selector_kept(s, used)]
            if kept:
                body = re.sub(URL, lambda m: f"url({relocate(m[1], base)})", body)
                out.append(f"{','.join(kept)}{{{body}}}")
    return "".join(out)


def split_declarations(body: str) -> list[str]:
    parts, depth, quote, current = [], 0, None, []
    for c in body:
        if quote:
            quote = None if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == ";" and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(c)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


# A url(): quoted (a data: URI may hold parentheses) or bare.
URL = r"url\((\"[^\"]*\"|'[^']*'|[^)]*)\)"
ROOT_RULE = r"(:root[^{]*)\{([^{}]*)\}"


def drop_unused_properties(css: str) -> str:
    """Remove the declarations of custom properties (--x: ...) that no kept rule reads.

    Most of the DSFR's :root is its palette; a property may read another, so repeat until
    nothing more goes."""
    while True:
        read = set(re.findall(r"var\((--[\w-]+)", css))
        pruned = re.sub(ROOT_RULE, lambda m, read=read: root_rule(m[1], m[2], read), css)
        if pruned == css:
            return re.sub(r":root[^{,]*\{\}", "", pruned)
        css = pruned


def root_rule(prelude: str, body: str, read: set[str]) -> str:
    kept = [
        d
        for d in split_declarations(body)
        if not d.strip().startswith("--") or d.split(":", 1)[0].strip() in read
    ]
    return f"{prelude}{{{';'.join(kept)}}}"


def build() -> str:
    """The subset's text, for the installed django-dsfr and the classes our code uses now."""
    dsfr_dir = dsfr_package()
    dist = dsfr_dir / "static" / "dsfr" / "dist"
    used = used_classes(dsfr_dir)
    version = re.search(r"DSFR v[\d.]+", (dist / "dsfr.main.min.css").read_text()).group(0)
    parts = []
    for name, base in (("dsfr.main.min.css", ""), ("utility/utility.main.min.css", "utility")):
        css = re.sub(r"/\*.*?\*/", "", (dist / name).read_text(), flags=re.S)
        parts.append(prune(css, used, base))
    header = (
        f"/*! {version} | SPDX-License-Identifier: MIT | the rules Fairslot's pages use, made by "
        "scripts/build_dsfr_css.py: run that script again, never edit this file. */\n"
    )
    return header + drop_unused_properties("".join(parts)) + "\n"


def main() -> int:
    OUTPUT.write_text(build())
    print(f"{OUTPUT.relative_to(ROOT)}: {OUTPUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
