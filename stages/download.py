"""DVC stage download@<dataset>: thin entry point; the work is fedforge.data.download.run_download (also `fedforge download`)."""
import sys

from fedforge.cli import main

if __name__ == "__main__":
    sys.exit(main(["download", *sys.argv[1:]]))
