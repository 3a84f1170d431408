"""``tlslab workshop``: every scenario for a room, a dashboard, blind exercises, progress.

pki (the catalogue re-issued for the room's names), plan (neutral names, ports), room (the
servers, views and answers), recorder (ladders and proofs from tapped servers), state
(SQLite progress), grading (causes, hints), dashboard + page (Twisted web), handout, commands.
"""

from lab.workshop.room import Options, Room, open_room

__all__ = ["Options", "Room", "open_room"]
