package httpapi

import (
	"github.com/labstack/echo/v4"

	"gatehouse/domain"
)

// mountResources adds the routes of a user's sessions and consents (none yet).
func (k *Console) mountResources(Routes) {}

// userResources fills the user page's sessions and consents (none yet).
func (k *Console) userResources(echo.Context, *operator, domain.User, *consoleView) error { return nil }
