from rest_framework import pagination

from segflow.errors import InvalidInput


class PageNumberPagination(pagination.PageNumberPagination):
    """DRF's page format. A page past the end (or not a number) is a 404, as in DRF; a
    page_size that is not a positive whole number is a 400, and a larger one is capped."""

    page_size = 50
    page_size_query_param = "page_size"
    page_size_query_description = "Results per page: default 50, capped at 1000."
    max_page_size = 1000

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw in (None, ""):
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise InvalidInput.single(self.page_size_query_param, "Must be a whole number >= 1.")
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
        return parameters


def paginated_response(view, queryset, serializer_class):
    """One page of `queryset` in DRF's page format, by the view's `pagination_class` (which
    drf-spectacular also reads to document the list)."""
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
