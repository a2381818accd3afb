"""The admin console: pages that show one connection's SAML and SCIM sides together.

It lives in the project package because it composes both protocol apps, which never
import each other (import-linter); each write still goes through its app's services.
"""
