"""ldap."""
