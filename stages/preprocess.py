"""DVC stage preprocess@<dataset>: thin entry point; the work is fedforge.data.preprocess.run_preprocess (also `fedforge preprocess`)."""
import sys

from fedforge.cli import main

if __name__ == "__main__":
    sys.exit(main(["preprocess", *sys.argv[1:]]))
