"""The pure call model: the call record, the domain events of a call and the
call-control port. Standard library only."""
