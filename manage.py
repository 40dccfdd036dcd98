#!/usr/bin/env python
from offload.cli import main

if __name__ == "__main__":
    main()
