#!/bin/sh
# The newcomer's entry point. Needs only Python 3.11+ and pip; everything else goes in .venv.
#   ./dev.sh demo          the main job: live-tail the embedded sandbox (Ctrl-C to stop)
#   ./dev.sh test          what CI runs: ruff, mypy --strict, lint-imports, pytest
#   ./dev.sh completions   regenerate completions/ after changing commands
#   ./dev.sh bench         run the benchmarks in bench/ (need wrk/hey/hyperfine from apt)
set -eu
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=.venv
BIN=$VENV/bin

setup() {
    if [ ! -f "$VENV/.installed" ] || [ pyproject.toml -nt "$VENV/.installed" ]; then
        echo "setting up $VENV (first run only)..." >&2
        "$PYTHON" -m venv "$VENV"
        "$BIN/pip" install --quiet --disable-pip-version-check --upgrade pip
        "$BIN/pip" install --quiet --disable-pip-version-check -e '.[dev]'
        touch "$VENV/.installed"
    fi
}

case "${1:-help}" in
    demo)
        setup
        shift
        exec "$BIN/notifyctl" tail --sandbox "$@"
        ;;
    test)
        setup
        shift
        "$BIN/ruff" check .
        "$BIN/mypy" --strict src
        "$BIN/lint-imports" --no-cache pyproject.toml
        exec "$BIN/pytest" -q "$@"
        ;;
    completions)
        setup
        for shell in bash zsh fish; do
            case $shell in bash) f=notifyctl.bash ;; zsh) f=_notifyctl ;; fish) f=notifyctl.fish ;; esac
            "$BIN/notifyctl" completion "$shell" > "completions/$f"
        done
        ;;
    bench)
        setup
        for b in bench/*.py; do "$BIN/python" "$b"; done
        ;;
    *)
        sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
        ;;
esac
