"""DVC stage centralized@<dataset>: thin entry point; the work is fedforge.train.centralized.run_centralized (also `fedforge centralized`)."""
import sys

from fedforge.cli import main

if __name__ == "__main__":
    sys.exit(main(["centralized", *sys.argv[1:]]))
