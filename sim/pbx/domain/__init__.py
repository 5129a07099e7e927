"""Pure, I/O-free rules of the PBX stand-in: AMI framing, event shapes, queue ordering."""
