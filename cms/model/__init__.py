"""The content model: a site's Decap CMS config, its collections, fields and widgets."""

from cms.model.collection import Collection, CollectionFile, Fields
from cms.model.config import Model, load_model
from cms.model.fields import Field
from cms.model.problems import Problem

__all__ = ["Collection", "CollectionFile", "Field", "Fields", "Model", "Problem", "load_model"]
