"""What the JSON API accepts: strict bodies (unknown fields refused) and the patterns of
values that may reach AMI or AGI (single line, no control characters), site codes, phone
numbers and passwords."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

# Single-line text with no control characters: anything that may reach AMI/AGI.
LINE = r"^[^\x00-\x1f\x7f]*$"
DIGITS = r"^[0-9]{1,32}$"
PHONE = r"^[0-9+*#() .-]{0,64}$"

Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500, pattern=LINE)
]
SiteCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=DIGITS)]
PhoneNumber = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64, pattern=PHONE)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=4000)
