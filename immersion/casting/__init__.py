"""The casting record: productions, roles, actors, auditions and their takes, in one SQLite file.

Take files stay the source of truth for performances; the record indexes them and holds the
decisions made about them (notes, ratings, selects) and the actor's consent.
"""
