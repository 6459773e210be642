"""Loading of YAML config files with errors that name the file and the bad entry."""

import yaml


class ConfigError(ValueError):
    """A config file is missing, unreadable, malformed or holds a bad value."""


def load_yaml(path):
    """Read a YAML mapping from path; raise ConfigError with the reason on any problem."""
    try:
        with open(path, encoding='utf-8') as stream:
            data = yaml.safe_load(stream)
    except OSError as error:
        raise ConfigError(f'cannot read config file {path}: {error.strerror}') from None
    except yaml.YAMLError as error:
        raise ConfigError(f'malformed YAML in {path}: {error}') from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: expected a mapping at the top level, got {type(data).__name__}')
    return data


def require(mapping, key, where):
    """Return mapping[key] or raise ConfigError naming where the key was expected."""
    if not isinstance(mapping, dict):
        raise ConfigError(f'{where}: expected a mapping, got {type(mapping).__name__}')
    if key not in mapping:
        raise ConfigError(f'{where}: missing required key {key!r}')
    return mapping[key]
