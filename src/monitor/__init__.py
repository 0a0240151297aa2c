"""monitor: a change-tracking news monitor driven by seed articles."""

__version__ = "0.1.0"
USER_AGENT = f"monitor/{__version__} (+https://github.com/monitor-news/monitor; change-tracking news monitor)"
