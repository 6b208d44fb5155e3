"""VMC protocol out (OSC over UDP): ``serve --vmc HOST:PORT``."""
