"""The regional business programme: enquiries from companies and their workflow, planning capacity shared
between the municipalities, and evaluation indicators over time ("følgeforskning").

Identity is decided at the edge: every function that acts for a user takes a plain ``Actor``.
"""
