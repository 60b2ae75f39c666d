"""The only place besides ``pages/`` that imports streamlit: cached loaders, shared
widgets and the live-training runner. Models live in ``st.session_state`` (one
user's); only immutable shared things are cached across sessions.
"""
