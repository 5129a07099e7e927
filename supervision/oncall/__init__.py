"""On-call paging: a level-1 ticket pages the engineer on duty at once, and the next one
on the rota when nobody acknowledges (`OnCallService`, leader only); the rota, the pages
and their acknowledgements over HTTP (`oncall_router`)."""
