"""The ground floor: settings, extensions, errors, time, SQL helpers and the registries.

Everything in ``app`` may import ``app.core``; ``app.core`` imports nothing else of ``app``.
Registries live here so that a feature registers what it offers (a link in the top bar, a map
overlay, a heat source, a dashboard figure, a demo step) and the page that shows it reads the
registry, instead of the feature reaching up or the page reaching into the feature.
"""
