#!/usr/bin/env bash
# Print the path of a Python >= 3.12: $PYTHON if set, else python3.13, python3.12, else pyenv's.
set -euo pipefail
ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; }
if [[ -n "${PYTHON:-}" ]]; then
  ok "$PYTHON" && { command -v "$PYTHON"; exit 0; }
  echo "PYTHON=$PYTHON is not a Python 3.12 or newer." >&2; exit 1
fi
for candidate in python3.13 python3.12 python3; do
  if command -v "$candidate" >/dev/null && ok "$candidate"; then command -v "$candidate"; exit 0; fi
done
for candidate in "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3 /root/.pyenv/versions/3.1[2-9]*/bin/python3; do
  if [[ -x "$candidate" ]] && ok "$candidate"; then echo "$candidate"; exit 0; fi
done
echo "Fairslot needs Python 3.12 or newer (Django 6.1). Install one (e.g. 'pyenv install 3.12')" \
     "or point PYTHON= at it: make run PYTHON=/path/to/python3.12" >&2
exit 1
