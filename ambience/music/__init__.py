"""The speaker: playlists on disk, the default music, the Player protocol and its backends (mpv)."""
