"""DVC stage federate@<phase>: thin entry point; the work is fedforge.fl.engine.run_phase (also `fedforge federate`)."""
import sys

from fedforge.cli import main

if __name__ == "__main__":
    sys.exit(main(["federate", *sys.argv[1:]]))
