#!/bin/sh
# Run bench/overhead.py under every pyenv CPython 3.10-3.13 present on this machine.
# No install needed: overhead.py puts src/ on sys.path itself.  Extra arguments
# (e.g. --quick, --repeats 5) are passed through.
#
#   sh bench/run_overhead_all.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=${PYENV_ROOT:-/root/.pyenv}
found=0
status=0
for minor in 3.10 3.11 3.12 3.13; do
    for dir in "$root"/versions/"$minor".*; do
        py="$dir/bin/python"
        [ -x "$py" ] || continue
        case "$(basename "$dir")" in
            *t) continue ;;  # free-threaded builds are not targeted
        esac
        found=1
        echo "==> $py"
        "$py" "$here/overhead.py" "$@" || status=1
        echo
    done
done
if [ "$found" = 0 ]; then
    echo "no CPython 3.10-3.13 under $root/versions" >&2
    exit 1
fi
exit $status
