"""Homeroom: attendance intervention platform for K-12 school districts."""
