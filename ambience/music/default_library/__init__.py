"""The default library: seeded compositions (:mod:`.compose`), nature beds (:mod:`.nature`) and
how they become audio files (:mod:`.render`). :mod:`ambience.music.sounds` decides when."""
