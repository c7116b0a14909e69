"""DVC stage partition@<dataset>: thin entry point; the work is fedforge.data.partition.run_partition (also `fedforge partition`)."""
import sys

from fedforge.cli import main

if __name__ == "__main__":
    sys.exit(main(["partition", *sys.argv[1:]]))
