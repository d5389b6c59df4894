"""Built-in algorithm x backend plugins. Each backend package has a ``catalog`` module listing its
``PluginSpec``s (registered through the ``harness.plugins`` entry points); implementations live in
sibling modules and are imported only when a run starts."""
