"""Plain constants that several layers name: the default encoders and the engines.

Neutral (it imports nothing): the settings (:mod:`counterpoint.config`), the encoder registry and
the engines read these names from here, so the settings never import the layers they configure.
"""

#: Encoders `embed` and `run` use when none are named.
DEFAULT_ENCODERS = ("symbolic-stats", "audio-stats", "musicnn")
#: What `counterpoint demo` embeds: the offline defaults, musicnn with every layer (for the report's layer maps), and the
#: untrained twin of its default layer (max_pool, seeded random weights) for the untrained control.
DEMO_ENCODERS = "symbolic-stats,audio-stats,musicnn:layers=all,musicnn:init=random"
#: Where encoders run: this machine, or Ray Data.
ENGINES = ("local", "ray")
#: Fewest works per style of the demo corpus that still give every style a train, a validation and a test work.
DEMO_MIN_PIECES_PER_STYLE = 3
