"""The speaker: playlists on disk, the default music, and mpv."""
