"""Helpers shared by the image, SFTP-store and stack tests."""
