"""ChannelServices' areas, one module each, composed by app/services/facade.py."""
