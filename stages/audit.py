"""DVC stage audit@<dataset>: thin entry point; the work is fedforge.data.audit.run_audit (also `fedforge audit`)."""
import sys

from fedforge.cli import main

if __name__ == "__main__":
    sys.exit(main(["audit", *sys.argv[1:]]))
